"""Folding the quoted tail and the signature of a body (webapp/mail/quotes.py)."""

from webapp.mail.quotes import fold_html, fold_text


def test_a_reply_keeps_what_was_written_and_folds_the_quote():
    text = (
        "Yes, Tuesday works.\n\nLea\n\nOn Mon, 3 Dec 2026 at 10:00, Ada <ada@x.test> wrote:\n> Free?\n> Ada\n"
    )
    folded = fold_text(text)
    assert folded.main == "Yes, Tuesday works.\n\nLea"
    assert folded.folded.startswith("On Mon, 3 Dec 2026")
    assert folded.folded.endswith("> Ada")


def test_a_french_attribution_wrapped_over_two_lines_is_found():
    folded = fold_text("Merci !\n\nLe lun. 3 déc. 2026 à 10:00, Ada <a@x.test> a\nécrit :\n> Bonjour\n")
    assert folded.main == "Merci !"
    assert "Bonjour" in folded.folded


def test_the_signature_and_outlook_copies_fold():
    assert fold_text("Thanks\n-- \nLea Martin\n+33 6 00").folded == "-- \nLea Martin\n+33 6 00"
    assert fold_text("Thanks\n\n-----Original Message-----\nFrom: x").main == "Thanks"


def test_answers_between_quotes_and_lookalikes_stay_open():
    inline = "> Can you come?\nYes.\n> At 10?\nAt 11 rather."
    assert fold_text(inline).folded == ""
    lookalike = "On Monday we talked and you wrote:\nsomething"  # no quote follows
    assert fold_text(lookalike).folded == ""
    assert fold_text("> only a quote").folded == ""  # nothing else: shown whole
    assert fold_text(None).main == ""


def test_html_folds_from_the_first_blockquote_with_an_escaped_label():
    html = "<p>Thanks!</p><div><div>On Mon, Ada wrote:</div><blockquote><p>old</p></blockquote></div>"
    out = fold_html(html, 'Show "quoted" <text>')
    assert out.startswith('<p>Thanks!</p><div><div>On Mon, Ada wrote:</div><details class="hm-fold">')
    assert 'title="Show &quot;quoted&quot; &lt;text>"' in out
    assert out.endswith("</blockquote></div></details>")
    assert fold_html("<blockquote>all quote</blockquote>", "x") == "<blockquote>all quote</blockquote>"
    assert fold_html("<p>no quote</p>", "x") == "<p>no quote</p>"
