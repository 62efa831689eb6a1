"""The folder list beside every page and swapped with every list, pane and action: from memory.

Its HTML is a function of the current folder, the counts, whether it is swapped out of band,
whether the user is an admin, the language and the app's root URL: `_nav_html` is cached by
exactly those, and its template reads nothing else.
"""

from functools import lru_cache

from flask import current_app, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from webapp.mail.read.folders import FOLDERS, GROUPS, Folder
from webapp.mailbox import bp

# A few KB each: one per user, folder and set of counts seen lately.
CACHED_NAVS = 1_000


@bp.app_template_global("folder_nav")
def folder_nav(folder: Folder, counts: dict[str, int], oob=False, in_none=False) -> Markup:
    """The folder list with `folder` current (none with `in_none`) and its unread (or draft) counts."""
    return _nav_html(
        "" if in_none else folder.slug,
        tuple(sorted(counts.items())),
        bool(oob),
        bool(current_user.is_admin),
        str(get_locale()),
        request.script_root,
    )


@lru_cache(maxsize=CACHED_NAVS)
def _nav_html(active: str, counts: tuple, oob: bool, is_admin: bool, locale: str, root: str) -> Markup:
    """The nav's HTML: the template reads only these (the locale picks its language, `root` its links)."""
    template = current_app.jinja_env.get_template("mailbox/_folder_nav_view.html")
    context = {"active": active, "counts": dict(counts), "oob": oob, "is_admin": is_admin}
    return Markup(template.render(folders=FOLDERS, groups=GROUPS, **context))
