"""Flask extensions, created once and bound in create_app()."""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# One limiter for sign-in (per user name and per client, edms.web.throttle) and refused bearer tokens (per client);
# its storage is the `rate_limit_storage` setting (create_app sets RATELIMIT_STORAGE_URI), shared by every node.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
