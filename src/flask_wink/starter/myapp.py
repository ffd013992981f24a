# myapp.py
"""A Flask app that links its users' outside accounts with flask-wink: a stand-in sign-in, one
button per provider, and a page listing what each user linked."""

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from flask_wink import Wink, get_state, signals
from flask_wink.jsonshape import account_json

wink = Wink()
csrf = CSRFProtect()
pages = Blueprint("pages", __name__)


def create_app(test_config=None):
    app = Flask(__name__)
    # FLASK_SECRET_KEY, FLASK_WINK_API_KEY, ...: every FLASK_* variable of the environment (and
    # of .env under `flask run`) becomes a setting without its prefix.
    app.config.from_prefixed_env()
    app.config.update(test_config or {})
    csrf.init_app(app)
    wink.init_app(app)
    app.register_blueprint(pages)
    return app


@wink.user_id_loader
def current_user_id():
    return session.get("user_id")  # your user's id, or None when nobody is signed in


@wink.events_permission
def may_read_events():
    return session.get("user_id") == "admin"


@pages.route("/login", methods=["GET", "POST"])
def login():
    # A stand-in for your real sign-in: whoever types a name is that user.
    name = request.form.get("name", "").strip()
    if request.method == "POST" and name:
        session["user_id"] = name
        return redirect(url_for("pages.home"))
    return render_template("login.html")


@pages.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("pages.login"))


@pages.get("/")
def home():
    if not current_user_id():
        return redirect(url_for("pages.login"))
    return render_template("home.html", user=current_user_id())


@pages.get("/links")
def links():
    user = current_user_id()
    if not user:
        return redirect(url_for("pages.login"))
    accounts = [account_json(a) for a in get_state().store.list_accounts(app_user_id=user)]
    return render_template("links.html", user=user, accounts=accounts)


@signals.account_connected.connect
def on_account_connected(sender, event, provider, account_id, source, **extra):
    # Sent for every provider: Smile Wink (from the widget, then from Smile's webhook), UCW (once
    # UCW confirms the connection) and Smile ID (once job_status confirms an approval).
    if provider == "smile_wink":
        print(f"work account {account_id} connected ({event.kind} {event.name})")
    elif provider == "ucw":
        print(f"bank connection {account_id} confirmed by UCW")
    elif provider == "smile_id":
        print(f"identity verification {account_id} approved")
