// A value loaded from the API, with its error and loading flag, for a page to show.
import { ref, type Ref } from "vue";

export interface Loaded<T> {
  data: Ref<T | null>;
  error: Ref<unknown>;
  loading: Ref<boolean>;
  reload: () => Promise<void>;
}

export function useLoad<T>(fetcher: () => Promise<T>): Loaded<T> {
  const data = ref<T | null>(null) as Ref<T | null>;
  const error = ref<unknown>(null);
  const loading = ref(false);
  async function reload(): Promise<void> {
    loading.value = true;
    try {
      data.value = await fetcher();
      error.value = null;
    } catch (exc) {
      error.value = exc;
    } finally {
      loading.value = false;
    }
  }
  return { data, error, loading, reload };
}
