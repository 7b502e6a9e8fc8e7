"""Sealing: a campaign's stored rows rewritten in random order and the old copies vacuumed
away, so that storage order says nothing about who rated when (privacy rule 6). ``rows`` does
it for every table a rating or an admission touches; ``api`` is the office's route to seal on
demand. The lifecycle seals at close and after the tally (``app.campaigns.lifecycle``)."""
