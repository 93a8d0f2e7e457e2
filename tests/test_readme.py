"""Every example in the README, run in order against a fresh service, prints what the
README shows (times and hashes aside). `python -m tests.support.readme_examples` refreshes them."""

from pathlib import Path

from tests.support.readme_examples import README, examples, fresh_service, normalized, run


def test_the_readme_examples_print_what_it_shows(server_url: str, tmp_path: Path) -> None:
    shown = examples(README.read_text(encoding="utf-8").splitlines())
    assert len(shown) >= 10
    with fresh_service(server_url, tmp_path) as url:
        for example in shown:
            printed = run(example, url)
            assert normalized(printed) == normalized(example.output), example.command
