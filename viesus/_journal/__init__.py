"""The journal family: where batch items' states live between runs, so a rerun never pays twice.

``keys`` (item identity), ``store`` (the store Protocol and its records), ``states`` (the item
state machine), ``sqlite`` (the one-machine journal), ``postgres`` (the journal many workers
share). Import the modules themselves; this package imports nothing.
"""
