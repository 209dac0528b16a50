"""The conformance layer: vectors, the reference adapter, the runner and the fuzzer.

Built on the engine; never imported by it (spec/13-conformance.md, spec/protocol.md).
"""
