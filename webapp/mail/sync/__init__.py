"""Mailbox sync: read a user's own IMAP mailbox into the conversations, and copy sent mail back."""
