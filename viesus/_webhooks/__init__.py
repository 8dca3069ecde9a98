"""Webhooks: signature checks, the ASGI receiver, registration, and an embedded listener.

``signature`` (``verify_signature``/``unwrap``, ``WebhookEvent``), ``receiver``
(``WebhookReceiver``), ``registration`` (the 5-webhook limit), ``listener``
(``WebhookListener``) served by ``serving`` (uvicorn inside the caller's loop). This package
imports nothing.
"""
