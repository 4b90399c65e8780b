"""The issuer's operations: card validation values, PIN generation and verification, EMV
cryptograms and PIN change.
"""
