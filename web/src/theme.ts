// Dark mode: follows the system unless the user picked light or dark (kept
// in localStorage).  Sets data-theme on <html>; styles.css does the rest.
export type ThemeMode = "system" | "light" | "dark";
const KEY = "orderly.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");

export function themeMode(): ThemeMode {
  const v = localStorage.getItem(KEY);
  return v === "light" || v === "dark" ? v : "system";
}

export function resolvedTheme(): "light" | "dark" {
  const m = themeMode();
  return m === "system" ? (media.matches ? "dark" : "light") : m;
}

const listeners = new Set<() => void>();
export function onThemeChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function apply(): void {
  document.documentElement.dataset.theme = resolvedTheme();
  listeners.forEach((l) => l());
}

export function setThemeMode(m: ThemeMode): void {
  if (m === "system") localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, m);
  apply();
}

media.addEventListener("change", apply);
apply();
