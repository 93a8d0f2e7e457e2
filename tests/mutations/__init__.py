"""The mutation check (`python -m tests.mutations`, CI runs it): named one-line mutations of
the service, each applied to a scratch copy of the project, with the tests that must then
fail. A mutation whose tests still pass marks a rule no test guards, and fails the check."""
