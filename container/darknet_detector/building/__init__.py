"""Model building, at image build time only: cfg parsing, layer kinds, the ONNX converter, parity tools.

The runtime image does not ship this package; the engines read what it writes through model_format.
"""
