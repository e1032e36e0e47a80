"""The reporting layer: the words and tables of a report (report), maps and plots. Imports the
runner, model and core layers.
"""
