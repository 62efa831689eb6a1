"""Reading headers of untrusted mail without ever raising: the one safe header reader."""


def header_value(msg, name: str) -> str:
    """The header's text on one line ("" when absent); raw text when the policy can't parse it."""
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse: fall back to its raw text
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    return " ".join(str(value).split()) if value is not None else ""
