"""The vault: seals key material into stored key blocks and unseals it, never handing out the
master key (`base.Vault`); the X9.143 storage block every vault writes (`blocks`); the default
vault, a master key in a local file (`local`); a master key inside a PKCS#11 token (`pkcs11`); the
vault the settings name (`factory`); and the one bounded cache of unsealed key material
and what is derived from it (`keycache`)."""
