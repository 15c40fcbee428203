"""The stream processors: a pure domain core (``streams.core``) and the Faust shell around it."""
