// The console's shell: header with navigation (what the role may see),
// live-update state, theme toggle and the signed-in user; the page for the
// current path.
import { useEffect, useState } from "preact/hooks";
import { setUnauthorizedHandler } from "./api/client";
import { can, loadSession, logout, signedOut, useSession, type Action } from "./auth";
import { LiveIndicator, Loading } from "./components/ui";
import { connect, disconnect } from "./live";
import { match, navigate, onLinkClick, useRoute } from "./router";
import { setThemeMode, themeMode, type ThemeMode } from "./theme";
import { Dashboard } from "./pages/dashboard";
import { Orders } from "./pages/orders";
import { OrderDetail } from "./pages/order";
import { NewOrder } from "./pages/neworder";
import { Inventory } from "./pages/inventory";
import { Queues } from "./pages/queues";
import { QueueDetail } from "./pages/queue";
import { Events } from "./pages/events";
import { Rules } from "./pages/rules";
import { Alarms } from "./pages/alarms";
import { Audit, Keys, Users } from "./pages/admin";
import { Login } from "./pages/login";
import favicon from "./favicon.svg";

interface NavItem {
  href: string;
  label: string;
  action?: Action;
  accounts?: boolean;
}

const NAV: NavItem[] = [
  { href: "/", label: "Dashboard", action: "ops:read" },
  { href: "/orders", label: "Orders" },
  { href: "/new", label: "New order", action: "orders:create" },
  { href: "/inventory", label: "Inventory" },
  { href: "/queues", label: "Queues", action: "ops:read" },
  { href: "/events", label: "Events", action: "ops:read" },
  { href: "/rules", label: "Rules & functions", action: "ops:read" },
  { href: "/alarms", label: "Alarms", action: "ops:read" },
  { href: "/users", label: "Users", action: "admin", accounts: true },
  { href: "/keys", label: "API keys", action: "admin", accounts: true },
  { href: "/audit", label: "Audit", action: "admin", accounts: true },
];

function current(href: string, path: string): boolean {
  return href === "/" ? path === "/" : path === href || path.startsWith(href + "/");
}

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === "/") return can("ops:read") ? <Dashboard /> : <Orders />;
  if (match("/orders", path)) return <Orders />;
  if ((m = match("/orders/:id", path))) return <OrderDetail id={m.id} />;
  if (match("/new", path)) return <NewOrder />;
  if (match("/inventory", path)) return <Inventory />;
  if (match("/queues", path)) return <Queues />;
  if ((m = match("/queues/:name", path))) return <QueueDetail name={m.name} />;
  if (match("/events", path)) return <Events />;
  if (match("/rules", path)) return <Rules />;
  if (match("/alarms", path)) return <Alarms />;
  if (match("/users", path)) return <Users />;
  if (match("/keys", path)) return <Keys />;
  if (match("/audit", path)) return <Audit />;
  if (match("/login", path)) {
    navigate("/", true);
    return null;
  }
  return (
    <div>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code>. <a href="/">Go to the start</a>.
      </p>
    </div>
  );
}

function ThemeToggle() {
  const [mode, setMode] = useState<ThemeMode>(themeMode());
  return (
    <label class="live" style="font-weight:400">
      <span>Theme</span>
      <select
        aria-label="Colour theme"
        value={mode}
        onChange={(e) => {
          const m = e.currentTarget.value as ThemeMode;
          setThemeMode(m);
          setMode(m);
        }}
      >
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}

export function App() {
  const route = useRoute();
  const session = useSession();
  const [menu, setMenu] = useState(false);

  useEffect(() => {
    setUnauthorizedHandler(signedOut);
    loadSession();
    document.addEventListener("click", onLinkClick);
    return () => document.removeEventListener("click", onLinkClick);
  }, []);

  // the live stream runs while someone is signed in
  const signedIn = !!session.me;
  useEffect(() => {
    if (signedIn) connect();
    else disconnect();
  }, [signedIn]);

  useEffect(() => setMenu(false), [route.path]);

  if (!session.loaded) return <Loading what="Starting the console" />;
  if (!session.me) return <Login />;

  const items = NAV.filter((n) => (!n.action || can(n.action)) && (!n.accounts || session.accounts));
  return (
    <div>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={can("ops:read") ? "/" : "/orders"}>
          <img src={favicon} alt="" />
          orderly
        </a>
        <button
          type="button"
          class="menu-button"
          aria-expanded={menu}
          aria-controls="mainnav"
          onClick={() => setMenu(!menu)}
        >
          Menu
        </button>
        <nav id="mainnav" class={menu ? "open" : ""} aria-label="Main">
          <ul>
            {items.map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={current(n.href, route.path) ? "page" : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="tools">
          <LiveIndicator />
          <ThemeToggle />
          {session.accounts && (
            <span class="live" data-user={session.me.username}>
              <span>
                {session.me.username} <span class="badge b-muted">{session.me.role}</span>
              </span>
              <button type="button" onClick={() => logout().then(() => navigate("/", true))}>
                Sign out
              </button>
            </span>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={route.path} />
      </main>
    </div>
  );
}
