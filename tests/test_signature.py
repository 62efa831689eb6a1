"""The HTML part of mail signed with a formatted signature: what was typed stays text, the
signature is formatted, a reply's quote is a blockquote; no formatted signature, no HTML part."""

from webapp.mail.outbound import signature

RICH = '<b>Rita</b><div><a href="https://acme.example">Acme</a></div>'
PLAIN = "Rita\nAcme <https://acme.example>"


def test_a_reply_gets_the_signature_formatted_and_its_quote_in_a_blockquote():
    body = (
        "Tuesday <3pm> works.\r\n\r\n-- \r\nRita\r\nAcme <https://acme.example>\r\n\r\n"
        "On Monday, Léa wrote:\r\n> Hi\r\n> there"
    )
    html = signature.html_body(body, PLAIN, RICH)
    assert "Tuesday &lt;3pm&gt; works.<br>" in html
    assert '<div class="signature">-- <br>\n<b>Rita</b>' in html
    assert "Acme &lt;" not in html  # the plain twin is replaced, not repeated
    assert "<blockquote>Hi<br>\nthere</blockquote>" in html
    assert html.index("<b>Rita</b>") < html.index("On Monday")


def test_no_html_part_without_a_formatted_signature_or_once_it_is_taken_out():
    assert signature.html_body("Hi\n\n-- \nRita", "Rita", None) is None
    assert signature.html_body("Hi, no signature", PLAIN, RICH) is None


def test_the_editor_html_keeps_only_formatting_and_safe_links():
    text, html = signature.from_editor('<p onclick="x()">Rita <i>R.</i></p><a href="data:text/html,x">y</a>')
    assert html == '<p>Rita <i>R.</i></p><a rel="noopener noreferrer">y</a>'
    assert text == "Rita R.\ny"
