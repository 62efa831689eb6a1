"""What several blueprints render but none owns: the conversation pane and its page. No routes here."""
