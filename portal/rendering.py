"""Safe rendering of text that developers write (app descriptions)."""

import markdown
import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "code", "pre", "blockquote", "h3", "h4"}


def render_description(text: str) -> SafeString:
    """Markdown for formatting, never raw HTML: the text is escaped before Markdown sees it (so a
    <script> shows as text), and the result is sanitised again as a second line of defence."""
    html = markdown.markdown(escape(text or ""), extensions=[], output_format="html")
    cleaned = nh3.clean(
        html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}}, link_rel="noopener noreferrer nofollow"
    )
    return mark_safe(cleaned)
