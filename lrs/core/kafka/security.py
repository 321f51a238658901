"""TLS and SASL options for every Kafka client, from the settings (a managed Kafka needs them).

kafka-python (the LRS's producer, ``lrs migrate``'s admin client, ``lrs doctor``) takes :func:`kafka_options`;
the workers' Faust/aiokafka clients take the same values through :func:`ssl_context` and ``streams.app``.
"""

from __future__ import annotations

import ssl
from typing import Any

from lrs.core.config import Settings


def uses_tls(settings: Settings) -> bool:
    """Whether the connection to the brokers is encrypted."""
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def uses_sasl(settings: Settings) -> bool:
    """Whether clients authenticate with SASL."""
    return settings.kafka_security_protocol.startswith("SASL_")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of a TLS protocol (the CA bundle or the system's; a client certificate if given)."""
    if not uses_tls(settings):
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile or None)
    return context


def kafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of kafka-python's clients (KafkaProducer, KafkaConsumer, KafkaAdminClient)."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if uses_tls(settings):
        options["ssl_context"] = ssl_context(settings)
    if uses_sasl(settings):
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password.get_secret_value())
    return options
