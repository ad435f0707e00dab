"""Tools for instructors: run nbgrader on this course and grade the demo class."""
