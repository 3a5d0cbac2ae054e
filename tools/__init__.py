"""Baton's development and load tools: the baton CLI, the simulation, local servers, generators. Not in the image."""
