"""Delivery channels behind one small interface (see ``base.Channel``)."""
