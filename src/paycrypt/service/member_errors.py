"""ValidationException naming the input member at fault, with the data plane's fieldList.

The wire layer reports constraint failures (type, length, pattern) itself; the service raises
these for values that pass the model but not the operation: a KSN of the wrong standard, data
not aligned to the cipher's block, an IV of the other cipher's size. The message names the
member by its path in the request (e.g. `EncryptionAttributes.Dukpt.KeySerialNumber`) and says
what is wrong with it; it never quotes the value, which may be a PAN, a PIN block or plaintext.
"""

from __future__ import annotations

from paycrypt.errors import ValidationError


def invalid(path: str, detail: str) -> ValidationError:
    detail = detail.rstrip(".")
    return ValidationError(
        f"Invalid {path}: {detail}.",
        field_list=[{"path": "/" + path.replace(".", "/"), "message": detail}],
    )
