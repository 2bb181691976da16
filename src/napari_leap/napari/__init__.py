"""The napari side: layer conversion, reader/writer, sample data and dock widgets."""
