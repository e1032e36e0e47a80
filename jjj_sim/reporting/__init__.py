"""The reporting layer: words and number formats (words), the tables of a report (report), maps
and plots. Imports the runner, model and core layers.
"""
