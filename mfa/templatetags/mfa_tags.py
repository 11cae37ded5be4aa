"""Template tags and filters of mfa's pages (``{% load mfa_tags %}``): the site's name for the
header, a form field's widget tied to its errors and help for screen readers, a device's name
from its user agent, and a time written with its zone and how long ago it was."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from mfa.adapter import get_adapter
from mfa.trusted_devices import device_name

register = template.Library()


@register.simple_tag
def mfa_site_name() -> str:
    """The adapter's ``get_site_name()``: what the header and the page titles show."""
    return get_adapter().get_site_name()


@register.filter
def mfa_widget(field: Any) -> str:
    """Render a bound field's widget with ``aria-describedby`` naming its error and help
    elements (ids ``<id>-errors``, ``<id>-help``, as mfa/elements/field.html writes them) and
    ``aria-invalid`` when it has errors, so a screen reader reads the error with the field."""
    described = []
    if field.errors:
        described.append(f"{field.auto_id}-errors")
    if field.help_text:
        described.append(f"{field.auto_id}-help")
    attrs = {}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.filter
def mfa_device(user_agent: str) -> str:
    """"Chrome on Linux" from a user agent (mfa.trusted_devices.device_name)."""
    return device_name(user_agent or "")


@register.simple_tag
def mfa_time(value: datetime | None, relative: bool = True) -> str:
    """A time in the current time zone with the zone named ("2026-12-06 14:03 UTC") in a
    ``<time>`` element, followed by how long ago it was ("2 hours ago") when ``relative``.
    Empty for None."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    shown = format_date(local, "Y-m-d H:i T")
    iso = value.isoformat()
    if not relative:
        return format_html('<time datetime="{}">{}</time>', iso, shown)
    now = timezone.now()
    if value > now:
        ago = _("in %(delta)s") % {"delta": timesince(now, value, depth=1)}
    elif (now - value).total_seconds() < 60:
        ago = _("just now")
    else:
        ago = _("%(delta)s ago") % {"delta": timesince(value, now, depth=1)}
    return format_html('<time datetime="{}">{}</time> <span class="ago">({})</span>', iso, shown, ago)
