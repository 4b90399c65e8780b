"""Key exchange: import and export parameters, ImportKey and ExportKey, certificates and the
service CA, TR-31 blocks, ECDH agreement, AS 2805 key cryptograms, TranslateKeyMaterial.
"""
