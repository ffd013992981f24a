"""Quickstart pages: invites. Send invitations, follow their status, manage invite templates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import URL, DataRequired, Length, Regexp

from flask_wink import get_state
from flask_wink.providers.smile_wink import smile_wink
from flask_wink.providers.smile_wink.errors import SmileAPIError, SmileError
from flask_wink.providers.smile_wink.invites import (
    DEFAULT_TEXTS,
    TEMPLATE_TEXT_FIELDS,
    create_invite_template,
    delete_invite_template,
    list_invite_templates,
    list_invites,
    send_invite,
    update_invite_template,
)

from .shared import SANDBOX_PREFIX, Link

# Good enough to catch typos; Smile decides whether it can deliver.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address like name@example.com.")
VARIABLES = "May use ${companyName} and ${fullName}."


def _required(what: str) -> DataRequired:
    return DataRequired(message=f"Enter {what}.")


class SendInviteForm(FlaskForm):
    """Who to invite, and with which template."""

    email = StringField("Email", validators=[_required("an email address"), Length(max=200), EMAIL])
    full_name = StringField("Full name", validators=[_required("the person's full name"), Length(max=200)])
    template_id = SelectField("Invite template", validators=[_required("an invite template")], choices=[])


class InviteTemplateForm(FlaskForm):
    """An invite template: company, email, landing page and success page (Smile's required fields)."""

    name = StringField("Template name", validators=[_required("a template name"), Length(max=64)])
    company_name = StringField("Company name", validators=[_required("the company name"), Length(max=200)])
    logo_url = StringField(
        "Logo URL",
        validators=[_required("the logo's URL"), Length(max=200), URL(message="Enter a URL like https://...")],
    )
    send_email = BooleanField("Email the invitation", default=True)
    sender_name = StringField("Sender name", validators=[_required("the sender's name"), Length(max=200)])
    reply_address = StringField(
        "Reply-to address", validators=[_required("a reply-to address"), Length(max=200), EMAIL]
    )
    subject = StringField(
        "Email subject", description=VARIABLES, validators=[_required("a subject"), Length(max=200)],
        default=DEFAULT_TEXTS["email"]["subject"],
    )
    body = TextAreaField(
        "Email body", description=VARIABLES, validators=[_required("the email's text"), Length(max=5000)],
        default=DEFAULT_TEXTS["email"]["body"],
    )
    landing_header = StringField(
        "Landing page header", description=VARIABLES, validators=[_required("a header"), Length(max=200)],
        default=DEFAULT_TEXTS["landingPage"]["header"],
    )
    landing_description = TextAreaField(
        "Landing page text", validators=[_required("a description"), Length(max=5000)],
        default=DEFAULT_TEXTS["landingPage"]["description"],
    )
    landing_button = StringField(
        "Landing page button", validators=[_required("the button's label"), Length(max=200)],
        default=DEFAULT_TEXTS["landingPage"]["button"],
    )
    success_header = StringField(
        "Success page header", description=VARIABLES, validators=[_required("a header"), Length(max=200)],
        default=DEFAULT_TEXTS["successPage"]["header"],
    )
    success_description = TextAreaField(
        "Success page text", validators=[_required("a description"), Length(max=5000)],
        default=DEFAULT_TEXTS["successPage"]["description"],
    )
    success_button = StringField(
        "Success page button", validators=[_required("the button's label"), Length(max=200)],
        default=DEFAULT_TEXTS["successPage"]["button"],
    )

    # form field -> (section, field) in Smile's InviteTemplate
    FIELDS = {
        "company_name": ("company", "name"),
        "logo_url": ("company", "logoUrl"),
        "send_email": ("email", "sendEmail"),
        **TEMPLATE_TEXT_FIELDS,
    }

    def template(self) -> dict[str, Any]:
        """The form as an ``InviteTemplatePostRequest`` / ``InviteTemplateUpdateRequest`` body."""
        body: dict[str, Any] = {"name": self.name.data.strip()}
        for field, (section, key) in self.FIELDS.items():
            value = getattr(self, field).data
            body.setdefault(section, {})[key] = value.strip() if isinstance(value, str) else bool(value)
        return body

    @classmethod
    def from_template(cls, template: dict[str, Any]) -> InviteTemplateForm:
        """A form showing Smile's stored ``template``."""
        data = {"name": template.get("name")}
        for field, (section, key) in cls.FIELDS.items():
            data[field] = (template.get(section) or {}).get(key)
        return cls(formdata=None, data=data)


class DeleteForm(FlaskForm):
    """Nothing but the CSRF token: a delete must come from our own page."""


def _settings_sandbox() -> bool:
    settings = current_app.config.get("QUICKSTART")
    return bool(settings and settings.sandbox)


def _template_choices(templates: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(t["id"], f"{t['name']} ({t['company']['name']})") for t in templates]


def _smile_message(exc: SmileError) -> str:
    if isinstance(exc, SmileAPIError):
        return f"Smile refused: {exc.message}"
    return f"Smile could not be reached: {exc.message}"


def _invites_page(
    *,
    send_form: SendInviteForm | None = None,
    template_form: InviteTemplateForm | None = None,
    error: str | None = None,
    status: int = 200,
):
    invites: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    try:
        templates = list_invite_templates()
        invites = list_invites()
    except SmileError as exc:
        error = error or _smile_message(exc)
        status = max(status, 502)
    send_form = send_form or SendInviteForm(formdata=None)
    send_form.template_id.choices = _template_choices(templates)
    html = render_template(
        "pages/invites.html",
        invites=list(reversed(invites)),
        templates=templates,
        send_form=send_form,
        template_form=template_form or InviteTemplateForm(formdata=None),
        delete_form=DeleteForm(formdata=None),
        error=error,
        sandbox=_settings_sandbox(),
        outbox_url=_outbox_url(),
    )
    return html, status


def _outbox_url() -> str | None:
    if not _settings_sandbox():
        return None
    return f"{SANDBOX_PREFIX}/outbox"


def invites():
    """Invites with their status, a form to send one, and the invite templates."""
    return _invites_page()


def invites_send():
    """Send an invite from the form; the page again with field errors when it is not valid."""
    form = SendInviteForm()
    try:
        form.template_id.choices = _template_choices(list_invite_templates())
    except SmileError as exc:
        return _invites_page(send_form=form, error=_smile_message(exc), status=502)
    if not form.validate():
        return _invites_page(send_form=form, status=400)
    try:
        invite = send_invite(form.email.data.strip(), form.full_name.data.strip(), form.template_id.data)
    except SmileError as exc:
        return _invites_page(send_form=form, error=_smile_message(exc), status=502)
    flash(f"Invited {invite['email']} (invite {invite['id']}, {invite['status']}).")
    return redirect(url_for("pages.invites"))


def invite_template_create():
    """Create an invite template from the form."""
    form = InviteTemplateForm()
    if not form.validate():
        return _invites_page(template_form=form, status=400)
    try:
        template = create_invite_template(form.template())
    except SmileError as exc:
        return _invites_page(template_form=form, error=_smile_message(exc), status=502)
    flash(f"Created invite template {template['name']} ({template['id']}).")
    return redirect(url_for("pages.invites"))


def invite_template_edit(template_id: str):
    """Edit an invite template: the form filled from Smile, saved with Smile's PUT."""
    error = None
    status = 200
    if request.method == "POST":
        form = InviteTemplateForm()
        if form.validate():
            try:
                update_invite_template(template_id, form.template())
            except SmileError as exc:
                error, status = _smile_message(exc), 502
            else:
                flash(f"Saved invite template {form.name.data}.")
                return redirect(url_for("pages.invites"))
        else:
            status = 400
    else:
        try:
            form = InviteTemplateForm.from_template(
                smile_wink(get_state()).client.get_invite_template(template_id)
            )
        except SmileError as exc:
            form, error = InviteTemplateForm(formdata=None), _smile_message(exc)
            status = 404 if getattr(exc, "status", None) == 404 else 502
    html = render_template(
        "pages/invites_template.html", form=form, template_id=template_id, error=error
    )
    return html, status


def invite_template_delete(template_id: str):
    """Delete an invite template (the form carries only the CSRF token)."""
    form = DeleteForm()
    if not form.validate():
        return _invites_page(error=_csrf_message(form), status=400)
    try:
        delete_invite_template(template_id)
    except SmileError as exc:
        return _invites_page(error=_smile_message(exc), status=502)
    flash(f"Deleted invite template {template_id}.")
    return redirect(url_for("pages.invites"))


def _csrf_message(form: FlaskForm) -> str:
    errors = form.errors.get("csrf_token") or ["The form is not valid."]
    return f"Refused: {' '.join(errors)} Reload the page and try again."


def csrf_error(form: FlaskForm) -> str | None:
    """The CSRF error of ``form`` as one sentence, or None (shown above the form's fields)."""
    return _csrf_message(form) if form.errors.get("csrf_token") else None


#: The pages the dashboard's menu lists.
LINKS: tuple[Link, ...] = (
    ("pages.invites", "Invitations"),
)


def register(pages: Blueprint) -> None:
    """Add this part's routes and template context to the quickstart's ``pages`` blueprint."""
    pages.add_url_rule("/invites", view_func=invites, methods=["GET"])
    pages.add_url_rule("/invites/send", view_func=invites_send, methods=["POST"])
    pages.add_url_rule("/invites/templates", view_func=invite_template_create, methods=["POST"])
    template = "/invites/templates/<template_id>"
    pages.add_url_rule(f"{template}/edit", view_func=invite_template_edit, methods=["GET", "POST"])
    pages.add_url_rule(f"{template}/delete", view_func=invite_template_delete, methods=["POST"])
    pages.add_app_template_global(csrf_error, "invites_csrf_error")
