"""WTForms definitions (Flask-WTF adds CSRF protection to each)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from edms.timeutil import zone_names
from edms.users.roles import ROLE_LABELS, ROLES


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    confirm_password = PasswordField(_l("Repeat the new password"), validators=[DataRequired()])


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[("en", "English"), ("ja", "日本語")])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices():
    return [(role, _l(ROLE_LABELS[role])) for role in ROLES]


class ProfileFields(FlaskForm):
    printed_name = StringField(_l("Printed name (as shown under signatures)"), validators=[DataRequired(), Length(max=200)])
    title = StringField(_l("Job title"), validators=[Optional(), Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    timezone = SelectField(_l("Time zone"), default="UTC")
    language = SelectField(_l("Language"), choices=[("en", "English"), ("ja", "日本語")], default="en")
    access_expires_at = DateTimeLocalField(
        _l("Access expires (UTC; for inspectors)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(zone, zone) for zone in zone_names()]


class CreateUserForm(ProfileFields):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    roles = MultiCheckboxField(_l("Roles"), validators=[DataRequired()])
    password = PasswordField(_l("Initial password (the person must change it at first sign-in)"), validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.roles.choices = _role_choices()


class EditUserForm(ProfileFields):
    reason = TextAreaField(_l("Reason for the change"), validators=[DataRequired(), Length(max=2000)])


class ConfirmWithPassword(FlaskForm):
    # An act of authority is confirmed with the administrator's own password, like a signature.
    your_password = PasswordField(_l("Your password, to confirm"), validators=[DataRequired(), Length(max=1024)])


class RolesForm(ConfirmWithPassword):
    roles = MultiCheckboxField(_l("Roles"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason for the change"), validators=[DataRequired(), Length(max=2000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.roles.choices = _role_choices()


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class ReactivateForm(ConfirmWithPassword):
    password = PasswordField(_l("Temporary password (the person must change it at first sign-in)"),
                             validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class ResetPasswordForm(ConfirmWithPassword):
    password = PasswordField(_l("New temporary password"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
