/**
 * What to do about the errors users hit most: wrong secret, missing role, unknown workspace or compute. Keyed by the
 * Azure error code (AADSTS number for Azure AD). A hint is printed after the error message.
 */
const AAD_HINTS: Record<string, string> = {
  AADSTS7000215:
    'The client secret is wrong. Use the secret VALUE (not its ID) of the app registration, or create a new one with `az ad app credential reset --id <client-id>` and update the repository secret.',
  AADSTS7000222: 'The client secret has expired. Create a new one with `az ad app credential reset --id <client-id>` and update the repository secret.',
  AADSTS7000218: 'No client secret was sent: set `client-secret` (or `clientSecret` in `azure-credentials`), or use OIDC with `permissions: id-token: write`.',
  AADSTS700016: 'No app with this client id exists in the tenant: check `client-id` and `tenant-id` (they must come from the same app registration).',
  AADSTS90002: 'The tenant was not found: check `tenant-id` (the Directory (tenant) ID of the app registration) and `cloud`.',
  AADSTS900023: 'The tenant id is malformed: use the Directory (tenant) ID GUID or the tenant domain name.',
  AADSTS70021:
    "No federated credential matches the GitHub OIDC token: add one whose issuer is https://token.actions.githubusercontent.com and whose subject matches this workflow (e.g. repo:OWNER/REPO:ref:refs/heads/main, or repo:OWNER/REPO:environment:NAME).",
  AADSTS700211: 'The OIDC issuer is not trusted by the app: the federated credential must have issuer https://token.actions.githubusercontent.com.',
  AADSTS700213: "The OIDC token's subject matches no federated credential of the app: check the subject (repo, branch, environment or pull_request) of the federated credential.",
  AADSTS700212: "The OIDC token's audience does not match the federated credential: set `oidc-audience` to the credential's audience (default api://AzureADTokenExchange).",
  AADSTS500011:
    'This Azure AD tenant does not know the resource the token was asked for: the tenant is in another cloud. Set `cloud` (AzureUSGovernment or AzureChinaCloud) to the cloud of the tenant and workspace.',
  AADSTS700024: 'The GitHub OIDC token has expired; the action requests a fresh one for every Azure AD token, so this means the runner clock is off or the token was reused.'
}

/**
 * The ways Azure ML says a run's compute target does not exist, in the run's error or in an answer to
 * startrun: "AzureMLCompute cluster X does not exist", "Unknown compute target 'X'.", "Compute target X not
 * found", "ComputeTargetNotFound: Compute Target with name X not found in provided workspace", "BatchAI
 * cluster '…/clusters/X' was not found", "Could not find compute target X". Within one sentence (a dot inside
 * a resource id does not end it), so that a message that merely mentions a compute does not match.
 */
export const UNKNOWN_COMPUTE =
  /unknown compute|ComputeTargetNotFound|could not find (?:the )?compute|\b(?:compute(?: target)?|(?:AzureMLCompute|AmlCompute|BatchAI) cluster)\b(?:[^.\n]|\.(?!\s|$)){0,200}?\b(?:(?:was |is )?not found|does not exist|doesn't exist)/i

export const UNKNOWN_COMPUTE_HINT =
  'The compute target does not exist in the workspace: check `compute-target` (or "Target" in the run definition), list them with operation: list and resource: computes, or create one with operation: create-compute.'

/** A hint for this error, if there is a useful one. */
export function hintFor(status: number, code: string, message: string): string | undefined {
  const aadsts = /AADSTS\d+/.exec(code)?.[0]
  if (aadsts && AAD_HINTS[aadsts]) return AAD_HINTS[aadsts]
  if (code.startsWith('AuthorizationFailed') || (status === 403 && /authoriz|permission|access/i.test(message))) {
    return 'The service principal has no role on the workspace. Grant it one, e.g. `az role assignment create --assignee <client-id> --role "AzureML Data Scientist" --scope <workspace resource id>` (Contributor is needed to create computes or workspaces).'
  }
  if (code === 'ResourceGroupNotFound') return 'Check `resource-group` (and that it is in the subscription given by `subscription-id`).'
  if (code === 'SubscriptionNotFound' || code === 'InvalidSubscriptionId') {
    return 'Check `subscription-id`, and that the service principal has a role in that subscription.'
  }
  if (code === 'ResourceNotFound' && /workspaces\//i.test(message) && !/computes\//i.test(message)) {
    return 'Check `workspace-name`, `resource-group` and `subscription-id`; `operation: list` with `resource: workspaces` lists the workspaces the principal can see.'
  }
  // startrun refusing the run's target outright (rather than the run failing on it later).
  if ((status === 400 || status === 404) && UNKNOWN_COMPUTE.test(message)) return UNKNOWN_COMPUTE_HINT
  if (status === 404 && /\bRun\b.*\bnot found\b/i.test(message)) {
    return 'Check `run-id` and `experiment-name`: run history finds a run only in its own experiment.'
  }
  if (code.startsWith('ExpiredAuthenticationToken') || code.startsWith('InvalidAuthenticationToken')) {
    return 'The Azure AD token was not accepted: check `cloud` (and `authority-host` / `resource-manager-endpoint`) so that the token is for the right cloud.'
  }
  if (status === 429) return 'Azure is throttling this principal; the action already waited and retried. Retry later or spread the workflows out.'
  return undefined
}
