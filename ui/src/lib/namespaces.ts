// The namespace tree: a.b.c under a.b under a, from the namespaces flows are in.
export interface NamespaceNode {
  name: string;
  label: string;
  children: NamespaceNode[];
  flows: number;
}

export function namespaceTree(namespaces: string[]): NamespaceNode[] {
  const roots: NamespaceNode[] = [];
  const byName = new Map<string, NamespaceNode>();
  const counts = new Map<string, number>();
  for (const ns of namespaces) counts.set(ns, (counts.get(ns) ?? 0) + 1);
  for (const ns of [...counts.keys()].sort()) {
    const parts = ns.split(".");
    for (let i = 1; i <= parts.length; i++) {
      const name = parts.slice(0, i).join(".");
      if (byName.has(name)) continue;
      const node: NamespaceNode = { name, label: parts[i - 1] ?? name, children: [], flows: 0 };
      byName.set(name, node);
      const parent = byName.get(parts.slice(0, i - 1).join("."));
      (i > 1 && parent ? parent.children : roots).push(node);
    }
  }
  for (const [ns, count] of counts) {
    for (const [name, node] of byName) if (ns === name || ns.startsWith(name + ".")) node.flows += count;
  }
  return roots;
}
