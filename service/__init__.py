"""Enrollment service: students, courses and the enrollment of students in courses."""
