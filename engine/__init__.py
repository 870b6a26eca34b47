"""zsar-studio engine: skeleton data, preprocessing, encoders, text encoders, methods, bundles.

The engine imports neither ``trainer`` nor Qt (checked by ``tests/test_architecture.py``).
"""

__version__ = "0.1.0"
