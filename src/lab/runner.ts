export async function runScenarios(_o: { repoRoot: string; filter?: string; keep: boolean }) {
  return { passed: 0, failed: 0 };
}
