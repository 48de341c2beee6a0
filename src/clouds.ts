/**
 * The Azure clouds the action can talk to: where Azure AD and ARM live, which audience tokens are for,
 * which host names belong to Azure Machine Learning (the host policy sends tokens to nothing else) and
 * where studio shows a run.
 */
export const CLOUD_NAMES = ['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud'] as const
export type CloudName = (typeof CLOUD_NAMES)[number]

export interface Cloud {
  name: CloudName
  /** Azure AD host, e.g. https://login.microsoftonline.com (no trailing slash). */
  authorityHost: string
  /** ARM endpoint, e.g. https://management.azure.com (no trailing slash). */
  resourceManager: string
  /** Audience of the one token used for ARM and the Azure ML data plane. */
  tokenAudience: string
  /** Default audience of the GitHub OIDC token exchanged for an Azure AD token. */
  oidcAudience: string
  /** DNS suffixes of Azure ML services in this cloud (discovery, history, execution, model management). */
  azureMlDomains: readonly string[]
  /** Azure ML studio, where run-url points. */
  studioUrl: string
}

const CLOUDS: Record<CloudName, Omit<Cloud, 'name'>> = {
  AzureCloud: {
    authorityHost: 'https://login.microsoftonline.com',
    resourceManager: 'https://management.azure.com',
    tokenAudience: 'https://management.azure.com/',
    oidcAudience: 'api://AzureADTokenExchange',
    azureMlDomains: ['azureml.ms', 'azureml.net', 'ml.azure.com'],
    studioUrl: 'https://ml.azure.com'
  },
  AzureUSGovernment: {
    authorityHost: 'https://login.microsoftonline.us',
    resourceManager: 'https://management.usgovcloudapi.net',
    tokenAudience: 'https://management.usgovcloudapi.net/',
    oidcAudience: 'api://AzureADTokenExchangeUSGov',
    azureMlDomains: ['ml.azure.us'],
    studioUrl: 'https://ml.azure.us'
  },
  AzureChinaCloud: {
    authorityHost: 'https://login.chinacloudapi.cn',
    resourceManager: 'https://management.chinacloudapi.cn',
    tokenAudience: 'https://management.chinacloudapi.cn/',
    oidcAudience: 'api://AzureADTokenExchangeChina',
    azureMlDomains: ['ml.azure.cn'],
    studioUrl: 'https://studio.ml.azure.cn'
  }
}

/** The cloud's endpoints with the user's overrides applied (trailing slashes removed). */
export function resolveCloud(name: CloudName, overrides: { authorityHost?: string; resourceManager?: string } = {}): Cloud {
  const base = CLOUDS[name]
  return {
    name,
    ...base,
    authorityHost: trimSlash(overrides.authorityHost ?? base.authorityHost),
    resourceManager: trimSlash(overrides.resourceManager ?? base.resourceManager)
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

/** Loopback hosts: the only ones plain http:// may be used with (the local Azure ML service). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)
}
