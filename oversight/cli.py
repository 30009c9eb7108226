"""The ``oversight`` command: Flask's CLI with this application's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from flask_babel import gettext as _

from oversight import create_app


def _create(*_args, **_kwargs):
    return create_app()


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Seed demo organs, officers and one account per role (random passwords)."""
    from oversight.seed import database_is_empty, seed_demo
    from oversight.services.uow import unit_of_work

    if not database_is_empty():
        raise click.ClickException(_("数据库已有数据，未重复生成演示数据"))
    with unit_of_work():
        passwords = seed_demo()
    _print_logins(passwords)


def _print_logins(passwords: dict[str, str]) -> None:
    click.echo(_("演示账号（密码仅显示这一次，请妥善保存）："))
    for username, password in passwords.items():
        click.echo(f"  {username:10s} {password}")


@click.command("create-user")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", type=click.Choice(["intake", "inspector", "leader", "admin", "officer"]),
              required=True)
@click.option("--organ", "organ_code", required=True, help="organ code")
@click.option("--badge", default=None, help="officer badge number (role officer only)")
@click.option("--email", default="", help="where deadline reminders and supervision notices go")
@click.password_option()
@with_appcontext
def create_user_command(username, display_name, role, organ_code, badge, email, password):
    """Create a staff account."""
    from oversight.extensions import db
    from oversight.models import Officer, Organ, User
    from oversight.services.uow import unit_of_work
    from workflows.roles import Role

    if len(password) < 10:
        raise click.ClickException(_("密码至少 10 位"))
    with unit_of_work():
        organ = db.session.execute(sa.select(Organ).where(Organ.code == organ_code)).scalar()
        if organ is None:
            raise click.ClickException(_("未找到机关 %(code)s", code=organ_code))
        officer = None
        if role == "officer":
            officer = db.session.execute(
                sa.select(Officer).where(Officer.badge_no == (badge or ""))).scalar()
            if officer is None:
                raise click.ClickException(_("辅警账号须用 --badge 指定存在的辅警编号"))
        if email and ("@" not in email or len(email) > 254):
            raise click.ClickException(_("邮箱地址格式不正确"))
        user = User(username=username, display_name=display_name, role=Role(role),
                    organ=organ, officer=officer, email=email.strip())
        user.set_password(password)
        db.session.add(user)
    click.echo(_("已创建账号 %(username)s", username=username))


@click.command("reset-factor")
@click.option("--username", required=True)
@click.option("--reason", required=True, help="why, for the security log (e.g. lost phone)")
@with_appcontext
def reset_factor_command(username, reason):
    """Turn off an account's second factor and end its sessions (for an admin who lost
    their phone; other accounts are reset on /admin/security)."""
    from oversight.extensions import db
    from oversight.models import User
    from oversight.services import second_factor
    from oversight.services.uow import unit_of_work

    with unit_of_work():
        user = db.session.execute(sa.select(User).where(User.username == username)).scalar()
        if user is None:
            raise click.ClickException(_("未找到账号 %(username)s", username=username))
        second_factor.remove(user, by=None, reason=reason)
    click.echo(_("已重置 %(username)s 的两步验证，其现有登录均已失效", username=username))


@click.command("verify-log")
@with_appcontext
def verify_log_command():
    """Verify every case's hash-chained event log and every notice's text hash."""
    from oversight.extensions import db
    from oversight.models import CaseEvent, Notice
    from oversight.services.events import verify_chains
    from oversight.services.notices import verify_notices

    breaks = list(verify_chains())
    altered = list(verify_notices())
    total = db.session.execute(sa.select(sa.func.count(CaseEvent.id))).scalar()
    notices = db.session.execute(sa.select(sa.func.count(Notice.id))).scalar()
    for b in breaks:
        click.echo(f"BROKEN {b.case_type}#{b.case_id} seq {b.seq}: {b.problem}")
    for number in altered:
        click.echo(f"BROKEN notice {number}: text differs from the hash taken at issue")
    if breaks or altered:
        click.echo(f"{len(breaks) + len(altered)} problem(s) in {total} events "
                   f"and {notices} notices")
        sys.exit(1)
    click.echo(f"OK: {total} events and {notices} notices verify")


@click.command("counts")
@click.option("--repair", is_flag=True, help="count every case again into the kept counts")
@with_appcontext
def counts_command(repair):
    """Check the kept counts of cases (queues, 待我处理) against the case tables; with
    --repair, count them again (after cases were written around the app)."""
    from oversight.extensions import db
    from oversight.services import counts
    from oversight.services.uow import unit_of_work

    if repair:
        with unit_of_work():
            rows = counts.repair(db.session.connection())
        click.echo(_("已重新计数：%(n)s 行（案件类型、机关、状态）", n=rows))
        return
    wrong = counts.check(db.session.connection())
    for (case_type, organ_id, state), kept, actual in wrong:
        click.echo(_("计数不符：%(type)s 机关 %(organ)s 状态 %(state)s，记录 %(kept)s 件，"
                     "实有 %(actual)s 件", type=case_type, organ=organ_id, state=state,
                     kept=kept, actual=actual))
    if wrong:
        click.echo(_("%(n)s 项计数与案件不符，请运行 oversight counts --repair", n=len(wrong)))
        sys.exit(1)
    click.echo(_("计数与案件一致"))


@click.command("backup")
@click.option("--to", "dest", type=click.Path(path_type=Path), default=None,
              help="a directory (created if missing; default instance/backups) or a new "
                   "file name ending in .tar")
@with_appcontext
def backup_command(dest):
    """Write one archive (mode 0600) of the database, the evidence files and a manifest;
    safe while the app runs. The search index is not included."""
    from oversight.backup import BackupError, take_backup

    try:
        result = take_backup(dest)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for line in result.lines():
        click.echo(line)


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace a database that already holds cases")
@with_appcontext
def restore_command(archive, force):
    """Restore a backup archive with the app stopped, then check it as verify-log does;
    exit status 1 when refused or when any check fails."""
    from oversight.backup import BackupError, restore_archive

    try:
        report = restore_archive(archive, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)


@click.command("expire-suspensions")
@with_appcontext
def expire_suspensions_command():
    """End every duty suspension whose maximum term has run out (run it daily)."""
    from oversight.models.base import utcnow
    from oversight.services.suspensions import sweep_expired
    from oversight.services.uow import unit_of_work

    with unit_of_work():
        numbers = sweep_expired(utcnow())
    for number in numbers:
        click.echo(number)
    click.echo(_("已解除期满的暂停履职 %(n)s 件", n=len(numbers)))


@click.command("refresh-stats")
@click.option("--follow", is_flag=True, help="keep refreshing (one process is enough)")
@click.option("--poll", default=30.0, show_default=True, type=click.FloatRange(1),
              help="seconds between passes with --follow")
@with_appcontext
def refresh_stats_command(follow, poll):
    """Count again, ahead of the request, the statistics someone read within the last day
    that are older than half of OVERSIGHT_STATS_CACHE_SECONDS, so that no page waits for
    them (run it from cron every minute, or once with --follow)."""
    import time

    from oversight.models.base import utcnow
    from oversight.services.stats import refresh

    if current_app.config["STATS_CACHE_SECONDS"] <= 0:
        click.echo(_("统计数据未设缓存（OVERSIGHT_STATS_CACHE_SECONDS=0），无需预先计算"))
        return
    while True:
        started = time.monotonic()
        done = refresh(utcnow())
        click.echo(_("已预先计算统计数据 %(n)s 项，清除 %(dropped)s 项（%(seconds)s 秒）",
                     n=len(done.counted), dropped=done.dropped,
                     seconds=f"{time.monotonic() - started:.1f}"))
        for key in done.failed:
            click.echo(_("统计数据计算失败（见日志），下次再试：%(key)s", key=key), err=True)
        if not follow:
            sys.exit(1 if done.failed else 0)
        try:
            time.sleep(poll)
        except KeyboardInterrupt:
            return


@click.command("deadlines")
@click.option("--soon-days", default=3, show_default=True, type=click.IntRange(0, 30),
              help="remind this many days before a clock is due")
@with_appcontext
def deadlines_command(soon_days):
    """Remind the handling organs of clocks due soon or overdue (idempotent; run it from
    cron as often as you like: each clock, kind and due date is reminded once)."""
    from oversight.models.base import utcnow
    from oversight.services.supervision import send_reminders
    from oversight.services.uow import unit_of_work

    with unit_of_work():
        counts = send_reminders(utcnow(), soon_days=soon_days)
    click.echo(_("期限提醒：即将到期 %(soon)s 件，已超期 %(late)s 件，邮件 %(mails)s 封",
                 soon=counts["due_soon"], late=counts["overdue"], mails=counts["mails"]))


@click.command("index")
@click.option("--follow", is_flag=True, help="keep applying the outbox (one worker only)")
@click.option("--poll", default=1.0, show_default=True, help="seconds between polls")
@with_appcontext
def index_command(follow, poll):
    """Apply the search outbox to the index (the single writer)."""
    from oversight import search

    if not follow:
        click.echo(_("已更新检索索引：%(n)s 条变更", n=search.index_pending()))
        return
    click.echo(_("正在持续更新检索索引（Ctrl+C 停止）"))
    try:
        search.follow(poll_seconds=poll)
    except KeyboardInterrupt:
        pass


@click.command("reindex")
@with_appcontext
def reindex_command():
    """Rebuild the whole search index from the database and swap it in."""
    from oversight import search

    with click.progressbar(length=1, label=_("重建检索索引")) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        count = search.rebuild(progress=progress)
    click.echo(_("检索索引已重建：%(n)s 件案件", n=count))


@click.command("sweep-attachments")
@click.option("--grace-minutes", default=60, show_default=True, type=click.IntRange(0),
              help="spare unreferenced files this young while the server may be writing")
@with_appcontext
def sweep_attachments_command(grace_minutes):
    """Remove evidence files no case refers to (left by a crash between writing a file and
    committing its case): run it before the server starts and from cron."""
    from oversight.services.attachments import sweep_orphans

    result = sweep_orphans(grace_seconds=grace_minutes * 60)
    for name in result.removed:
        click.echo(name)
    click.echo(_("已清理无引用的证据文件 %(n)s 个", n=len(result.removed)))
    if not result.exact:
        click.echo(_("有进程正在写入附件：%(m)s 分钟内的 %(n)s 个文件暂未清理",
                     m=grace_minutes, n=result.spared))


@click.command("run")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def run_command(host, port):
    """Apply migrations, seed demo data into an empty database, and serve."""
    from flask_migrate import upgrade

    from oversight.extensions import bind_migrations
    from oversight.seed import database_is_empty, seed_demo
    from oversight.services.uow import unit_of_work

    bind_migrations(current_app._get_current_object())
    upgrade()
    if database_is_empty():
        with unit_of_work():
            passwords = seed_demo()
        _print_logins(passwords)
    app = current_app._get_current_object()
    click.echo(_("辅警监督系统已启动： %(url)s  （工作人员登录： %(login)s）",
                 url=f"http://{host}:{port}/", login="/staff/login"))
    # Flask's app.run() refuses to serve from inside its own CLI, so call Werkzeug directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def build_cli() -> FlaskGroup:
    cli = FlaskGroup(create_app=_create, add_default_commands=False,
                     add_version_option=False, load_dotenv=False,
                     help=_("辅警监督 · Oversight"))
    for command in (run_command, seed_demo_command, create_user_command, reset_factor_command,
                    verify_log_command, counts_command,
                    expire_suspensions_command, deadlines_command, refresh_stats_command,
                    index_command,
                    reindex_command, sweep_attachments_command, backup_command,
                    restore_command, shell_command, routes_command):
        cli.add_command(command)
    return cli


def main() -> None:
    build_cli()(prog_name="oversight")
