import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";

export const routes: RouteRecordRaw[] = [
  { path: "/", name: "dashboard", component: () => import("./pages/DashboardPage.vue") },
  { path: "/flows", name: "flows", component: () => import("./pages/FlowsPage.vue") },
  { path: "/flows/new", name: "flow-new", component: () => import("./pages/FlowPage.vue") },
  {
    path: "/flows/:namespace/:flowId",
    name: "flow",
    component: () => import("./pages/FlowPage.vue"),
    props: true,
  },
  { path: "/executions", name: "executions", component: () => import("./pages/ExecutionsPage.vue") },
  {
    path: "/executions/:executionId",
    name: "execution",
    component: () => import("./pages/ExecutionPage.vue"),
    props: true,
  },
  { path: "/triggers", name: "triggers", component: () => import("./pages/TriggersPage.vue") },
  { path: "/namespaces/:namespace?", name: "namespace", component: () => import("./pages/NamespacePage.vue"), props: true },
  { path: "/audit", name: "audit", component: () => import("./pages/AuditPage.vue") },
  { path: "/login", name: "login", component: () => import("./pages/LoginPage.vue") },
  { path: "/:unknown(.*)*", name: "not-found", component: () => import("./pages/NotFoundPage.vue") },
];

export const router = createRouter({ history: createWebHistory("/ui/"), routes });
