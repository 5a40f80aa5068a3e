/** Jest global setup for the e2e project: brings the local control plane up (filled in by test/cluster). */
export default async function globalSetup(): Promise<void> {}
