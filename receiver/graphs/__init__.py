"""Graph snapshots: a picture of the alert's own condition over the minutes before it fired.

``expression`` finds what to draw in the rule's expression (the series and its threshold),
``prometheus`` reads them with a bounded ``query_range``, ``render`` draws the PNG and
``worker`` runs it all outside the webhook request, then queues the photo as a reply to the
alert's message. A graph that cannot be drawn is skipped with a note; nothing waits on it.
"""
