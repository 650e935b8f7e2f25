export const DEFAULT_KERNEL_SERIES: string;
export function compareVersions(a: string, b: string): number;
export function kernelSeries(kernel: string): string;
export function installedKernels(srcDir?: string): string[];
export function kernelVersion(kernel?: string, srcDir?: string): string | undefined;
export function headersDir(kernel?: string): string;
export function moduleBuildDir(repoRoot: string, version: string, srcDir?: string): string;
