"""The runtime, which knows no transport: the model repository (model, registry, serving_state), the model
runner with its batching and statistics, the open inference protocol's operations (dataplane, tensors),
`/predict` and `/read` (digits), and the checks on JSON payloads (validation). Each operation returns what it
ran (served.py); the transports record it.
"""
