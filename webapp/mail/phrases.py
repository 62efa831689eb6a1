"""Sentences the domain says to people, translated where they are shown.

The domain knows no language and no request: it writes each sentence in English, marked with
`N_` so that Babel extracts it, and keeps the parameters. A Phrase is the English text itself
(logs, exceptions and tests read it as a string); views show `webapp.templating.translate(p)`.
"""


class Phrase(str):
    """An English sentence for the user, with its message id and parameters for translation."""

    text: str
    params: dict[str, object]

    def __new__(cls, text: str, **params: object) -> "Phrase":
        phrase = super().__new__(cls, text % params if params else text)
        phrase.text, phrase.params = text, params
        return phrase


# The name Babel looks for (a default keyword of pybabel extract): marks text to translate later.
N_ = Phrase
