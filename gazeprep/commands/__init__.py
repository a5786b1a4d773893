"""The command line's faces: one module per ``gazeprep`` sub-command, each only parsing its
options (defaults from the options classes: ``IngestOptions``, ``RenderParams``, ``SimConfig``),
calling the stage and printing the summary."""
