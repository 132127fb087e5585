"""The merchant panel (issue 14): sign-in by SMS code, sessions, sign-up, pages.

codes      one-time codes: send (limited per phone and address), check (one use, lockout)
sessions   the session cookie, its item (idle and absolute expiry), sign-out, a phone's sessions
signup     a personal-account merchant for a signed-in phone, after the identity inquiries
guard      the session check and the cross-site form guard every panel route goes through
pages      the server-rendered pages (templates in paylink/web/pages/templates/panel/)
"""
