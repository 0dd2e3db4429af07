"""Notifications: an outbox of messages to people, e-mailed through SMTP when configured, otherwise recorded.

No Flask here. Services call, inside their own transaction (nothing is committed for them):

    from edms.notifications.outbox import enqueue, notify_users_with_roles

    enqueue(session, ctx, [owner], subject=both(N_("%(record)s was refused."), record=number), body=both(...),
            kind="rejected", smtp=settings.smtp, document_id=document.id, case_id=document.case_id)
    notify_users_with_roles(session, ctx, {"qa"}, subject="...", body="...", kind="task", smtp=settings.smtp,
                            document_id=document.id, exclude_ids={acting_user.id})

Subjects and bodies given in both languages (`edms.wording.both`) are written in each recipient's own
language (their setting); every subject reads as a sentence. Both return the new `Notification` rows: one
per active recipient, "pending" when `smtp` is configured (`settings.smtp.host` set) and the person has an
e-mail address, "recorded" otherwise, each audited as `notification.queued`. `kind` is one of
`models.KIND_LABELS` (task, rejected, approved, delegation, deadline). `deliver_pending(sessions, ctx, smtp,
now)` sends what is waiting (the `edms outbox deliver` command and the administrators' Outbox page call it)
and audits `notification.sent` / `notification.failed`.
"""
