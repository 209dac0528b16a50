"""The engine layer: state and events, the rules of chapters 7-12, the transition, scenarios.

Inside it, imports go down this list: outputs, scenarios, transition, liquidation,
insurance, then risk, breakers and markprice (independent of each other), state, records.
Imports only the model and base layers below it (spec/06-state.md to spec/12-risk.md).
"""
