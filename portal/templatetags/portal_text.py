from django import template

from portal.rendering import render_description

register = template.Library()


@register.filter(name="description")
def description_filter(text):
    return render_description(text)
