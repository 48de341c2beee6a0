import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { resolveCloud } from '../../src/clouds.js'
import { HostPolicy } from '../../src/http/host-policy.js'

describe('host policy', () => {
  const azure = new HostPolicy(resolveCloud('AzureCloud'))
  it('sends the token to Azure AD, ARM and Azure ML hosts of the cloud only', () => {
    for (const url of ['https://login.microsoftonline.com/t/oauth2/v2.0/token', 'https://management.azure.com/subscriptions', 'https://eastus.api.azureml.ms/history/v1.0/x', 'https://centralus.experiments.azureml.net/discovery']) {
      assert.doesNotThrow(() => azure.assertTokenAllowed(url, 'test'), url)
    }
    for (const url of ['https://evil.example.com/history', 'https://api.azureml.ms.evil.com/x', 'https://eastus.api.ml.azure.us/x', 'https://127.0.0.1:8080/x']) {
      assert.throws(() => azure.assertTokenAllowed(url, 'test'), /refusing to send the Azure AD token/, url)
    }
  })

  it('allows plain http only to loopback', () => {
    assert.throws(() => azure.assertTransport('http://management.azure.com/x', 'test'), /only https:\/\//)
    assert.doesNotThrow(() => azure.assertTransport('http://127.0.0.1:9/x', 'test'))
    assert.doesNotThrow(() => azure.assertTransport('http://localhost:9/x', 'test'))
  })

  it('with loopback endpoints (the local Azure ML service) tokens go to loopback and nowhere else', () => {
    const local = new HostPolicy(resolveCloud('AzureCloud', { authorityHost: 'http://127.0.0.1:8765', resourceManager: 'http://127.0.0.1:8765' }))
    assert.doesNotThrow(() => local.assertTokenAllowed('http://127.0.0.1:8765/history/v1.0/x', 'test'))
    assert.doesNotThrow(() => local.assertTokenAllowed('http://localhost:9999/x', 'test'))
    assert.throws(() => local.assertTokenAllowed('https://example.org/x', 'test'), /refusing/)
  })

  it('uses the Azure ML domains of the selected cloud', () => {
    const gov = new HostPolicy(resolveCloud('AzureUSGovernment'))
    assert.doesNotThrow(() => gov.assertTokenAllowed('https://usgovvirginia.api.ml.azure.us/history', 'test'))
    assert.throws(() => gov.assertTokenAllowed('https://eastus.api.azureml.ms/history', 'test'), /AzureUSGovernment/)
  })
})
