import { ref, watch } from "vue";

export type Theme = "light" | "dark";
const KEY = "lanner.theme";

function initial(): Theme {
  const saved = globalThis.localStorage?.getItem(KEY);
  if (saved === "light" || saved === "dark") return saved;
  return globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export const theme = ref<Theme>(initial());

watch(
  theme,
  (value) => {
    document.documentElement.dataset.theme = value;
    globalThis.localStorage?.setItem(KEY, value);
  },
  { immediate: true },
);

export function toggleTheme(): void {
  theme.value = theme.value === "dark" ? "light" : "dark";
}
